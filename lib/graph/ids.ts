/**
 * Turns a display name into a stable id: letters, digits and underscores only, so ids
 * can be used in REST input ids (`node__port`), URLs and database keys unchanged.
 * "My Cool App!" → "my_cool_app" (with `lower`), "Z-Image-Turbo" → "Z_Image_Turbo".
 */
export function slug(name: string, lower = false): string {
  // Most names are ids already (a common case worth a test: two replaces cost more).
  if (PLAIN.test(name)) return lower ? name.toLowerCase() : name;
  const s = (lower ? name.toLowerCase() : name).replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  return s || "node";
}

const PLAIN = /^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$/;

/** The REST/wire id of an input port: `node__port`, as in the Python original's API. */
export function inputId(nodeId: string, port: string): string {
  return `${nodeId}__${port}`;
}

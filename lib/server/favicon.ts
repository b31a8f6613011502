import { crc32, deflateSync } from "node:zlib";

const SIZE = 32;

let icon: Buffer | undefined;

/**
 * `/favicon.ico`: daggr's mark (three linked nodes, white on the canvas's orange), drawn
 * once at 32×32 and stored as an ICO holding one PNG image (what browsers ask for when a
 * page names no icon).
 */
export function favicon(): Buffer {
  return (icon ??= ico(png(draw())));
}

/** RGBA pixels: an anti-aliased rounded square with two nodes feeding a third. */
function draw(): Uint8Array {
  const px = new Uint8Array(SIZE * SIZE * 4);
  const nodes: Array<[number, number]> = [[9.5, 10.5], [9.5, 21.5], [22.5, 16]];
  const links: Array<[number, number]> = [[0, 2], [1, 2]];
  const cover = (d: number) => Math.max(0, Math.min(1, 0.5 - d)); // signed distance → coverage
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      // The rounded square (radius 7), orange, a little darker towards the bottom.
      const qx = Math.max(Math.abs(cx - 16) - 9, 0);
      const qy = Math.max(Math.abs(cy - 16) - 9, 0);
      const square = cover(Math.hypot(qx, qy) - 7);
      // Links (width 2.2) and nodes (radius 3.4), white.
      let mark = 0;
      for (const [a, b] of links) mark = Math.max(mark, cover(segment(cx, cy, nodes[a]!, nodes[b]!) - 1.1));
      for (const [nx, ny] of nodes) mark = Math.max(mark, cover(Math.hypot(cx - nx, cy - ny) - 3.4));
      const t = y / SIZE;
      const base: [number, number, number] = [249 - 15 * t, 115 - 27 * t, 22 - 10 * t];
      const i = (y * SIZE + x) * 4;
      for (let c = 0; c < 3; c++) px[i + c] = Math.round(base[c]! + (255 - base[c]!) * mark);
      px[i + 3] = Math.round(255 * square);
    }
  }
  return px;
}

function segment(x: number, y: number, [ax, ay]: [number, number], [bx, by]: [number, number]): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - ax - t * dx, y - ay - t * dy);
}

function png(rgba: Uint8Array): Buffer {
  const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
  for (let y = 0; y < SIZE; y++) raw.set(rgba.subarray(y * SIZE * 4, (y + 1) * SIZE * 4), y * (SIZE * 4 + 1) + 1);
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "ascii");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** An ICO directory of one PNG image. */
function ico(image: Buffer): Buffer {
  const head = Buffer.alloc(22);
  head.writeUInt16LE(0, 0); // reserved
  head.writeUInt16LE(1, 2); // icon
  head.writeUInt16LE(1, 4); // one image
  head.writeUInt8(SIZE, 6);
  head.writeUInt8(SIZE, 7);
  head.writeUInt16LE(1, 10); // planes
  head.writeUInt16LE(32, 12); // bits per pixel
  head.writeUInt32LE(image.length, 14);
  head.writeUInt32LE(22, 18);
  return Buffer.concat([head, image]);
}

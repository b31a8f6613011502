import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const RATE = 16_000;

/** Writes 16-bit mono PCM samples (in [-1, 1]) as a WAV file; returns its path. */
export function saveWav(dir: string, name: string, samples: Float32Array): string {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, s)) * 32767), i * 2));
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(RATE, 24);
  header.writeUInt32LE(RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(data.length, 40);
  const path = join(dir, `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.wav`);
  writeFileSync(path, Buffer.concat([header, data]));
  return path;
}

/** Reads the samples of a WAV written by `saveWav`. */
export function readWav(path: string): Float32Array {
  const data = readFileSync(path).subarray(44);
  const out = new Float32Array(data.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = data.readInt16LE(i * 2) / 32767;
  return out;
}

/** A "voice": a chirp per word at the speaker's pitch, so the demo needs no TTS model. */
export function speak(text: string, pitch: number): Float32Array {
  const words = text.split(/\s+/).filter(Boolean);
  const out = new Float32Array(Math.round(RATE * 0.18) * words.length + RATE * 0.2);
  words.forEach((w, k) => {
    const f = pitch * (1 + (w.length % 5) * 0.06);
    const start = k * Math.round(RATE * 0.18);
    for (let i = 0; i < RATE * 0.14; i++) out[start + i] = 0.4 * Math.sin((2 * Math.PI * f * i) / RATE) * Math.sin((Math.PI * i) / (RATE * 0.14));
  });
  return out;
}

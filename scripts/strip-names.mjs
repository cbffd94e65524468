// Removes the "name" custom section (function names, ~270 KB) from a wasm file in place.
// worker-build always asks wasm-opt to keep it; the runtime does not need it (panic messages keep
// their file:line locations), and Cargo's `strip = true` would also drop the section wasm-bindgen
// reads the enabled Wasm features from.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const wasm = readFileSync(file);
const leb = (buf, pos) => {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, pos];
};
const kept = [wasm.subarray(0, 8)];
let pos = 8, removed = 0;
while (pos < wasm.length) {
  const start = pos;
  const id = wasm[pos++];
  const [size, body] = leb(wasm, pos);
  const end = body + size;
  let name = null;
  if (id === 0) {
    const [len, at] = leb(wasm, body);
    name = wasm.subarray(at, at + len).toString("utf8");
  }
  if (name === "name") removed += end - start;
  else kept.push(wasm.subarray(start, end));
  pos = end;
}
writeFileSync(file, Buffer.concat(kept));
console.log(`strip-names: removed ${removed} bytes from ${file}`);

// The page's digits: data/digits.bin, written at build time by web/digits.py
// from the MNIST test set (a u32 count, count x 784 pixels, count labels).

export async function loadDigits(url = "data/digits.bin") {
  const res = await fetch(url);
  if (!res.ok) {
    throw new Error(`${url} is missing (HTTP ${res.status}): build the page with web/build.sh`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  const count = new DataView(bytes.buffer).getUint32(0, true);
  if (bytes.length !== 4 + count * 785) {
    throw new Error(`${url} is not a digits file (${bytes.length} bytes for ${count} digits)`);
  }
  const pixels = new Float32Array(count * 784);
  for (let i = 0; i < count * 784; i++) pixels[i] = bytes[4 + i] / 255;
  const labels = bytes.slice(4 + count * 784);
  return { count, pixels, labels };
}

// The first digit of each class 0..9: indices into the set.
export function onePerClass(labels) {
  const first = [];
  for (let d = 0; d < 10; d++) {
    const i = labels.indexOf(d);
    if (i >= 0) first.push(i);
  }
  return first;
}

// Rows `idx` of `pixels` (784 each), one after the other.
export function rowsOf(pixels, idx) {
  const out = new Float32Array(idx.length * 784);
  idx.forEach((i, k) => out.set(pixels.subarray(i * 784, (i + 1) * 784), k * 784));
  return out;
}

// The drawing pad and images made into MNIST-like 28x28 rows: white strokes
// on black, values in [0, 1].

export function makePad(canvas) {
  const g = canvas.getContext("2d");
  const clear = () => {
    g.fillStyle = "#000";
    g.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    const [x, y] = at(e);
    g.beginPath();
    g.moveTo(x, y);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e);
    g.strokeStyle = "#fff";
    g.lineWidth = canvas.width / 12;
    g.lineCap = g.lineJoin = "round";
    g.lineTo(x, y);
    g.stroke();
  });
  canvas.addEventListener("pointerup", () => (drawing = false));
  return { clear, row: () => toRow(canvas) };
}

// Any drawable (canvas, ImageBitmap) as a 784-value row. An image with a
// light background (dark strokes, as on paper) is inverted to MNIST's
// white on black; `inverted` says so.
export function toRow(source) {
  const c = document.createElement("canvas");
  c.width = c.height = 28;
  const g = c.getContext("2d", { willReadFrequently: true });
  g.fillStyle = "#000";
  g.fillRect(0, 0, 28, 28);
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = "high";
  // MNIST digits sit in the middle 20x20 of the 28x28 frame.
  g.drawImage(source, 4, 4, 20, 20);
  const px = g.getImageData(0, 0, 28, 28).data;
  const row = new Float32Array(784);
  for (let i = 0; i < 784; i++) {
    row[i] = (0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2]) / 255;
  }
  // The image's own mean brightness (the frame aside).
  let mean = 0;
  for (let y = 4; y < 24; y++) for (let x = 4; x < 24; x++) mean += row[y * 28 + x] / 400;
  const inverted = mean > 0.5;
  if (inverted) {
    // The frame around the image is black: invert the image part only.
    for (let y = 4; y < 24; y++) for (let x = 4; x < 24; x++) row[y * 28 + x] = 1 - row[y * 28 + x];
  }
  return { row, inverted };
}

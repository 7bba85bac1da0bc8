// What the page draws: the loss curve and strips of 28x28 digits.

// The loss per epoch as a line, with its range on the axis.
export function drawLoss(canvas, losses) {
  const g = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  g.clearRect(0, 0, w, h);
  const left = 60, right = 12, top = 12, bottom = 30;
  g.strokeStyle = "#8891a7";
  g.beginPath();
  g.moveTo(left, top);
  g.lineTo(left, h - bottom);
  g.lineTo(w - right, h - bottom);
  g.stroke();
  g.fillStyle = "#4a5368";
  g.font = "12px system-ui, sans-serif";
  g.fillText("epoch", w - right - 34, h - 8);
  if (losses.length === 0) {
    g.fillText("the loss appears here while the model trains", left + 12, h / 2);
    return;
  }
  const lo = Math.min(...losses), hi = Math.max(...losses);
  const span = hi - lo || Math.abs(hi) || 1;
  const x = (i) => left + (losses.length === 1 ? 0.5 : i / (losses.length - 1)) * (w - left - right);
  const y = (v) => top + (1 - (v - lo) / span) * (h - top - bottom);
  g.fillText(hi.toPrecision(3), 4, top + 8);
  g.fillText(lo.toPrecision(3), 4, h - bottom);
  g.fillText("1", left - 3, h - bottom + 14);
  g.fillText(String(losses.length), w - right - 8, h - bottom + 14);
  g.strokeStyle = "#3057d5";
  g.lineWidth = 2;
  g.beginPath();
  losses.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
  g.stroke();
  g.fillStyle = "#3057d5";
  losses.forEach((v, i) => g.fillRect(x(i) - 2, y(v) - 2, 4, 4));
  g.lineWidth = 1;
}

// One 28x28 digit (values in [0, 1]) at (x, y), `scale` pixels per pixel.
export function drawDigit(g, values, x, y, scale) {
  const img = g.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.max(0, Math.min(255, Math.round(values[i] * 255)));
    img.data.set([v, v, v, 255], i * 4);
  }
  const tmp = document.createElement("canvas");
  tmp.width = tmp.height = 28;
  tmp.getContext("2d").putImageData(img, 0, 0);
  g.imageSmoothingEnabled = false;
  g.drawImage(tmp, x, y, 28 * scale, 28 * scale);
}

// Originals in the top row and their reconstructions (if any) below.
export function drawStrip(canvas, originals, reconstructions) {
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, canvas.width, canvas.height);
  const n = originals.length / 784;
  const scale = Math.min(canvas.width / n - 4, canvas.height / 2 - 4) / 28;
  const step = 28 * scale + 4;
  for (let k = 0; k < n; k++) {
    drawDigit(g, originals.subarray(k * 784, (k + 1) * 784), 2 + k * step, 2, scale);
    if (reconstructions) {
      drawDigit(g, reconstructions.subarray(k * 784, (k + 1) * 784), 2 + k * step, 4 + 28 * scale + 2, scale);
    }
  }
}

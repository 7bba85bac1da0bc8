// A static file server for web/www on 127.0.0.1 (any static server does;
// this one has the .wasm MIME type browsers require for streaming
// compilation). `node web/tests/serve.mjs [PORT]` serves until Ctrl-C.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "www");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".bin": "application/octet-stream",
  ".png": "image/png",
};

export function serve(port = 0, root = ROOT) {
  const server = http.createServer((req, res) => {
    let rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (rel.endsWith("/")) rel += "index.html";
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root)) {
      res.writeHead(403);
      res.end();
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404, { "Content-Type": "text/plain" });
        res.end(`${rel}: not found`);
        return;
      }
      res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
      res.end(data);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] || 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve.mjs: '${process.argv[2]}' is not a port number (0 to 65535)`);
    process.exit(2);
  }
  const server = await serve(port).catch((e) => {
    console.error(
      e.code === "EADDRINUSE"
        ? `serve.mjs: port ${port} is in use; give another: node web/tests/serve.mjs ${port + 1}`
        : `serve.mjs: cannot serve on 127.0.0.1:${port}: ${e.message}`,
    );
    process.exit(1);
  });
  if (!fs.existsSync(path.join(ROOT, "pkg", "wgae_web.js"))) {
    console.error("web/www/pkg is missing: build the page first with `bash web/build.sh`");
  }
  console.log(`wgae's page: http://127.0.0.1:${server.address().port}/ (Ctrl-C stops)`);
}

import { resolve } from "node:path";
import { Elysia, t } from "elysia";
// The OpenAPI UI's script and stylesheet come from the swagger-ui-dist package, not a CDN, so the
// docs work on an offline site. Imported as files so a bundle or compiled binary (scripts/build.ts)
// carries them: each import is a path, absolute from the sources and in a binary, relative to the
// bundle's folder in a bundle (hence the resolve below).
import script from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import stylesheet from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import { needs } from "./access";

const files: Record<string, { path: string; type: string }> = {
  "swagger-ui-bundle.js": { path: resolve(import.meta.dir, script), type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { path: resolve(import.meta.dir, stylesheet), type: "text/css; charset=utf-8" },
};

// The page the OpenAPI plugin renders starts the UI with an inline script, which the page's
// Content-Security-Policy forbids; this one loads the same UI from files only.
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>UMOS API</title>
    <link rel="stylesheet" href="/openapi/assets/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/openapi/assets/swagger-ui-bundle.js"></script>
    <script src="/openapi/assets/start.js"></script>
  </body>
</html>
`;
const START = `window.ui = SwaggerUIBundle({ url: "/openapi/json", dom_id: "#swagger-ui" });\n`;

/** Swagger UI sets inline style attributes; scripts stay files of this origin. */
const DOCS_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The OpenAPI UI at /openapi, served offline, public like the document it shows. */
export const docsAssets = new Elysia()
  .get("/openapi", () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": DOCS_POLICY } }), {
    detail: needs("public", { hide: true }),
  })
  .get(
    "/openapi/assets/:file",
    ({ params, set }) => {
      if (params.file === "start.js")
        return new Response(START, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } });
      const file = files[params.file];
      if (!file) {
        set.status = 404;
        return "not found";
      }
      return new Response(Bun.file(file.path), { headers: { "content-type": file.type, "cache-control": "public, max-age=86400" } });
    },
    { params: t.Object({ file: t.String({ maxLength: 64 }) }), detail: needs("public", { hide: true }) },
  );

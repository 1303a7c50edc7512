import { dirname, join } from "node:path";
import { Elysia, t } from "elysia";

// The OpenAPI UI's script and stylesheet come from the swagger-ui-dist package, not a CDN, so the
// docs work on an offline site.
const distDir = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const files: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

export const docsAssets = new Elysia().get(
  "/openapi/assets/:file",
  ({ params, set }) => {
    const type = files[params.file];
    if (!type) {
      set.status = 404;
      return "not found";
    }
    return new Response(Bun.file(join(distDir, params.file)), { headers: { "content-type": type, "cache-control": "public, max-age=86400" } });
  },
  { params: t.Object({ file: t.String() }), detail: { hide: true } },
);

import { resolve } from "node:path";
import { Elysia, t } from "elysia";
// The OpenAPI UI's script and stylesheet come from the swagger-ui-dist package, not a CDN, so the
// docs work on an offline site. Imported as files so a bundle or compiled binary (scripts/build.ts)
// carries them: each import is a path, absolute from the sources and in a binary, relative to the
// bundle's folder in a bundle (hence the resolve below).
import script from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import stylesheet from "swagger-ui-dist/swagger-ui.css" with { type: "file" };

const files: Record<string, { path: string; type: string }> = {
  "swagger-ui-bundle.js": { path: resolve(import.meta.dir, script), type: "text/javascript; charset=utf-8" },
  "swagger-ui.css": { path: resolve(import.meta.dir, stylesheet), type: "text/css; charset=utf-8" },
};

export const docsAssets = new Elysia().get(
  "/openapi/assets/:file",
  ({ params, set }) => {
    const file = files[params.file];
    if (!file) {
      set.status = 404;
      return "not found";
    }
    return new Response(Bun.file(file.path), { headers: { "content-type": file.type, "cache-control": "public, max-age=86400" } });
  },
  { params: t.Object({ file: t.String() }), detail: { hide: true } },
);

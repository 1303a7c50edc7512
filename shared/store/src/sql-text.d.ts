// `import x from "./file.sql" with { type: "text" }` is the file's text (Bun's loader and bundler).
declare module "*.sql" {
  const text: string;
  export default text;
}

// esbuild loads `.txt` files as strings by default; this tells TypeScript so.
declare module "*.txt" {
  const text: string;
  export default text;
}

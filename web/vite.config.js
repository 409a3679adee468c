// Vite build of the web admin. JSX is compiled by esbuild for Preact (no
// framework plugin needed); the output goes wherever --outDir says (the meson
// build dir), with relative asset paths so admin can serve it from any prefix.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  test: { environment: 'node', include: ['src/**/*.test.js'] },
});

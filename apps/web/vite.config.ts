// The web UI: a Svelte 5 single-page application, built into dist/web and served by the gateway.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  // Relative asset URLs: the app works from / and from any prefix a proxy puts in front of it.
  base: './',
  plugins: [svelte({ configFile: false, compilerOptions: { runes: true } }), ...(process.env.VITEST ? [svelteTesting()] : [])],
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 700,
  },
  test: {
    root,
    environment: 'happy-dom',
    include: ['src/**/*.test.ts'],
  },
});

import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	kit: {
		// The server in server/main.ts mounts build/handler.js next to the sync server, on one port.
		adapter: adapter({ out: 'build' }),
		// src/routes/+layout.svelte registers it, and ignores a refusal.
		serviceWorker: { register: false }
	}
};

export default config;

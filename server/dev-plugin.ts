/**
 * `npm run dev`: mounts the Parley API and sync server into Vite's dev server, so the UI gets
 * hot reload against the real backend on one port (Vite's own HMR socket is left alone).
 */
import type { Plugin } from 'vite';

export function parleyDevServer(): Plugin {
	return {
		name: 'parley-dev-server',
		apply: 'serve',
		async configureServer(vite) {
			if (process.env.VITEST || !vite.httpServer) return; // tests start their own servers
			const { createParley } = await import('./app');
			const { loadConfig } = await import('./config');
			const parley = await createParley({ config: loadConfig() });
			vite.middlewares.use((req, res, next) => parley.handle(req, res, next));
			vite.httpServer.on('upgrade', (req, socket, head) => parley.upgrade(req, socket, head));
			vite.httpServer.once('close', () => void parley.close());
		}
	};
}

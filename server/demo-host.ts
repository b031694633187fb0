/**
 * The demo host site (SPEC P1/C1): a tiny "Demo shop" on its own port, so on another origin
 * than Parley, embedding the widget the way any customer's website would — one <script> tag
 * per workstream (static/widget.js). Its `/account` page plays a signed-in area: the shop's
 * server signs the customer's token with the workstream secret and hands it to the widget with
 * `Parley.setCustomerToken`. Started by server/main.ts with the demo data; plain node:http.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { signHostToken } from './auth/tokens';

export interface DemoHostOptions {
	/** 0 picks a free port. */
	port: number;
	host?: string;
	/** Where browsers reach Parley, e.g. `http://localhost:3000` (no trailing slash needed). */
	parleyUrl: string;
	/** The `persistent` workstream's secret (PARLEY_DEMO_WIDGET_SECRET). */
	secret: string;
	log?: Pick<Logger, 'warn' | 'error'>;
}

export interface DemoHost {
	port: number;
	close(): Promise<void>;
}

/** Text and attribute values in HTML. */
function escapeHtml(value: string): string {
	return value.replace(
		/[&<>"']/g,
		(c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!
	);
}

/** A value inside an inline <script>: JSON, with `<` escaped so `</script>` cannot end it. */
function scriptValue(value: unknown): string {
	return JSON.stringify(value)
		.replace(/</g, '\\u003c')
		.replace(/\u2028/g, '\\u2028')
		.replace(/\u2029/g, '\\u2029');
}

/** The demo customer from `?customer=` (here and on /demo): `carla` → id `carla`, name `Carla`. */
export function demoCustomer(raw: string | null): { id: string; name: string } {
	const value = (raw ?? 'carla').trim().slice(0, 60) || 'carla';
	const id = value.toLowerCase().replace(/[^a-z0-9_-]+/g, '-');
	return { id, name: value.charAt(0).toUpperCase() + value.slice(1) };
}

/** What a host site's server does for its signed-in customer: a token for an hour. */
export function signDemoCustomer(secret: string, customer: { id: string; name: string }) {
	return signHostToken(
		secret,
		{ sub: `demo-${customer.id}`, name: customer.name },
		{ now: Date.now(), ttlSeconds: 3600 }
	);
}

const STYLE = `
	:root { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2937; background: #fbf7f2; }
	body { margin: 0; }
	.site { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; padding: 0.8rem 1.25rem; background: #3b2f2f; color: #fff; }
	.site a { color: #fff; }
	.site nav { display: flex; gap: 1rem; }
	.brand { font-weight: 700; font-size: 1.1rem; text-decoration: none; }
	main { max-width: 56rem; margin: 0 auto; padding: 1.25rem; }
	.products { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: 1rem; padding: 0; list-style: none; }
	.products li { background: #fff; border: 1px solid #e5ddd3; border-radius: 12px; padding: 1rem; }
	.products h3 { margin: 0 0 0.3rem; font-size: 1rem; }
	.products p { margin: 0; color: #4b5563; }
	form.who { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; margin: 1rem 0; }
	label { display: grid; gap: 0.2rem; font-size: 0.9rem; }
	input, button { font: inherit; padding: 0.45rem 0.7rem; border-radius: 8px; }
	input { border: 1px solid #9ca3af; }
	button { border: 1px solid #3b2f2f; background: #3b2f2f; color: #fff; cursor: pointer; }
	button.secondary { background: #fff; color: #3b2f2f; }
	button:disabled { opacity: 0.55; cursor: not-allowed; }
	:focus-visible { outline: 3px solid #d97706; outline-offset: 2px; }
	code { background: #f3ede6; padding: 0.1rem 0.3rem; border-radius: 4px; }
	footer { max-width: 56rem; margin: 2rem auto; padding: 0 1.25rem; color: #6b7280; font-size: 0.85rem; }
`;

function layout(opts: { title: string; body: string; parleyUrl: string }): string {
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(opts.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="site">
	<a class="brand" href="/">Demo shop</a>
	<nav aria-label="Shop"><a href="/">Products</a><a href="/account">Your account</a></nav>
</header>
${opts.body}
<footer>
	<p>This shop is served from another origin than Parley (<code>${escapeHtml(opts.parleyUrl)}</code>), to show the widget embedded across origins.</p>
</footer>
</body>
</html>
`;
}

function snippet(parleyUrl: string, workstream: string): string {
	return `<script src="${escapeHtml(`${parleyUrl}/widget.js`)}" data-workstream="${escapeHtml(workstream)}" async></script>`;
}

function homePage(parleyUrl: string): string {
	return layout({
		title: 'Demo shop',
		parleyUrl,
		body: `<main>
	<h1>Demo shop</h1>
	<p>Questions about an order? Use the chat button at the bottom right: this page embeds
	Parley's <em>live</em> chat with one line of HTML. Signed-in customers get their own chat history on
	<a href="/account?customer=carla">their account page</a>.</p>
	<h2>Products</h2>
	<ul class="products">
		<li><h3>Espresso cups</h3><p>Set of two, 29 €</p></li>
		<li><h3>Pour-over kettle</h3><p>Gooseneck, 54 €</p></li>
		<li><h3>Whole beans</h3><p>Single origin, 1 kg, 32 €</p></li>
	</ul>
</main>
${snippet(parleyUrl, 'live')}`
	});
}

function accountPage(parleyUrl: string, customer: { id: string; name: string }, token: string) {
	return layout({
		title: `Your account (${customer.name}) — Demo shop`,
		parleyUrl,
		body: `<main>
	<h1>Your account</h1>
	<p>Signed in as <strong>${escapeHtml(customer.name)}</strong>. This page's server signed a customer
	token for you, so the chat button opens <em>your</em> conversation with the account team, the same
	on every device: open this address in another browser to see it.</p>
	<form class="who" method="get" action="/account">
		<label>Customer <input name="customer" value="${escapeHtml(customer.name)}" autocomplete="off" maxlength="60"></label>
		<button type="submit" class="secondary">Switch customer</button>
		<button type="button" id="sign-out">Sign out</button>
	</form>
	<p id="signed-out" role="status"></p>
</main>
<script>
	// What a real host page does: its server signed this token (HS256, the workstream secret),
	// and the page hands it to the widget, now or, if widget.js has not loaded yet, through the queue.
	(function () {
		var token = ${scriptValue(token)};
		var name = ${scriptValue(customer.name)};
		window.Parley = window.Parley || { q: [] };
		if (typeof window.Parley.setCustomerToken === 'function') window.Parley.setCustomerToken(token);
		else window.Parley.q.push(['setCustomerToken', token]);
		var button = document.getElementById('sign-out');
		button.addEventListener('click', function () {
			button.disabled = true;
			var done = function () {
				document.getElementById('signed-out').textContent =
					'Signed out. This device no longer keeps ' + name + "'s chat.";
			};
			if (typeof window.Parley.logout === 'function') window.Parley.logout().then(done);
			else { window.Parley.q.push(['logout']); done(); }
		});
	})();
</script>
${snippet(parleyUrl, 'persistent')}`
	});
}

function send(res: ServerResponse, status: number, body: string, head: boolean) {
	res.writeHead(status, {
		'content-type': 'text/html; charset=utf-8',
		'content-length': Buffer.byteLength(body),
		'cache-control': 'no-store',
		'x-content-type-options': 'nosniff',
		'referrer-policy': 'strict-origin-when-cross-origin'
	});
	res.end(head ? undefined : body);
}

export function startDemoHost(opts: DemoHostOptions): Promise<DemoHost> {
	const parleyUrl = opts.parleyUrl.replace(/\/+$/, '');
	const handle = async (req: IncomingMessage, res: ServerResponse) => {
		const head = req.method === 'HEAD';
		if (req.method !== 'GET' && !head) {
			res.setHeader('allow', 'GET, HEAD');
			return send(res, 405, 'Method not allowed', head);
		}
		const url = new URL(req.url ?? '/', 'http://demo.invalid');
		if (url.pathname === '/') return send(res, 200, homePage(parleyUrl), head);
		if (url.pathname === '/account') {
			const customer = demoCustomer(url.searchParams.get('customer'));
			const token = await signDemoCustomer(opts.secret, customer);
			return send(res, 200, accountPage(parleyUrl, customer, token), head);
		}
		return send(
			res,
			404,
			layout({
				title: 'Not found — Demo shop',
				parleyUrl,
				body: '<main><h1>Not found</h1><p><a href="/">Back to the shop</a></p></main>'
			}),
			head
		);
	};
	const server = createServer((req, res) => {
		handle(req, res).catch((err) => {
			opts.log?.error({ err }, 'demo host: request failed');
			if (!res.headersSent) send(res, 500, 'Internal error', false);
		});
	});
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(opts.port, opts.host, () => {
			server.off('error', reject);
			server.on('error', (err) => opts.log?.warn({ err }, 'demo host: server error'));
			resolve({
				port: (server.address() as AddressInfo).port,
				close: () =>
					new Promise<void>((done) => {
						server.close(() => done());
						server.closeAllConnections();
					})
			});
		});
	});
}

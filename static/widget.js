/*!
 * Parley widget loader. Embed one chat per workstream on any site with:
 *
 *   <script src="https://PARLEY_ORIGIN/widget.js" data-workstream="SLUG" async></script>
 *
 * It adds a launcher button (bottom right) and, on first open, a panel holding an iframe of
 * PARLEY_ORIGIN/chat. JS API on window.Parley: setCustomerToken(token[, slug]), logout([slug]),
 * open([slug]), close([slug]). The launcher shows how many agent messages wait unseen; for a
 * visitor who has a conversation on this device (or a signed-in customer) the iframe is loaded,
 * hidden, once the page is idle, so that count is there before the first open
 * (data-preload="false" turns that off). See docs/embedding.md. Plain ES2019, no dependencies.
 */
(function () {
	'use strict';

	var DEFAULT_COLOR = '#2563eb';
	var DEFAULT_TITLE = 'Chat';
	var HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

	// ---------------------------------------------------------------- which <script> is this?

	function findScript() {
		var current = document.currentScript;
		if (
			current &&
			current.getAttribute('data-workstream') &&
			!current.hasAttribute('data-parley-loaded')
		)
			return current;
		// Fallback (older browsers, or a loader that inserted the script oddly): the first script
		// ending in /widget.js with a workstream that no earlier run has claimed.
		var all = document.querySelectorAll('script[src][data-workstream]');
		for (var i = 0; i < all.length; i++) {
			var s = all[i];
			var path = s.src.split('#')[0].split('?')[0];
			if (/\/widget\.js$/.test(path) && !s.hasAttribute('data-parley-loaded')) return s;
		}
		return null;
	}

	var script = findScript();
	if (!script) {
		if (window.console)
			console.warn('Parley: no <script src=".../widget.js" data-workstream="…"> found');
		return;
	}
	script.setAttribute('data-parley-loaded', '');
	var slug = String(script.getAttribute('data-workstream') || '').trim();
	var origin;
	try {
		origin = new URL(script.src, document.baseURI).origin;
	} catch {
		origin = '';
	}
	if (!slug || !origin || origin === 'null') {
		if (window.console)
			console.warn('Parley: the widget script needs a src URL and data-workstream');
		return;
	}

	// ---------------------------------------------------------------- colours

	/** WCAG relative luminance of a #rgb / #rrggbb colour. */
	function luminance(hex) {
		var h = hex.slice(1);
		if (h.length === 3) h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2];
		var c = [0, 2, 4].map(function (i) {
			var v = parseInt(h.slice(i, i + 2), 16) / 255;
			return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
		});
		return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
	}
	var DARK = '#111827';
	var DARK_L = luminance(DARK);
	/** White or near-black text, whichever contrasts more with the background. */
	function textOn(hex) {
		var l = luminance(hex);
		return 1.05 / (l + 0.05) >= (l + 0.05) / (DARK_L + 0.05) ? '#ffffff' : DARK;
	}

	// ---------------------------------------------------------------- DOM (in a shadow root)

	var CSS =
		':host{all:initial}' +
		'*{box-sizing:border-box}' +
		'[hidden]{display:none!important}' +
		'.launcher{position:fixed;right:var(--parley-right);bottom:20px;z-index:2147483000;' +
		'width:56px;height:56px;padding:0;margin:0;border:0;border-radius:50%;cursor:pointer;' +
		'display:flex;align-items:center;justify-content:center;' +
		'background:var(--parley-color);color:var(--parley-text);' +
		'box-shadow:0 4px 14px rgba(0,0,0,.28);transition:transform .15s ease}' +
		'.launcher:hover{transform:scale(1.06)}' +
		'.launcher:focus{outline:none}' +
		'.launcher:focus-visible{outline:3px solid #111827;outline-offset:3px;' +
		'box-shadow:0 0 0 3px #fff,0 4px 14px rgba(0,0,0,.28)}' +
		'.launcher svg{width:28px;height:28px;fill:currentColor;pointer-events:none}' +
		'.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;' +
		'border-radius:11px;background:#b91c1c;color:#fff;border:2px solid #fff;' +
		'font:700 12px/18px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:center}' +
		'.panel{position:fixed;right:var(--parley-right);bottom:88px;z-index:2147483000;' +
		'width:380px;height:560px;max-width:calc(100vw - 32px);max-height:calc(100vh - 108px);' +
		'border-radius:14px;overflow:hidden;background:#fff;' +
		'box-shadow:0 12px 40px rgba(0,0,0,.3)}' +
		'.panel iframe{display:block;width:100%;height:100%;border:0;background:#fff}' +
		'@media (max-width:480px){' +
		'.panel{inset:0;right:0;bottom:0;width:100%;height:100%;max-width:none;max-height:none;' +
		'border-radius:0;z-index:2147483001}}' +
		'@media (prefers-reduced-motion:reduce){.launcher{transition:none}}';

	var ICON_CHAT =
		'<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z"/></svg>';
	var ICON_CLOSE =
		'<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z"/></svg>';

	var registry = window.Parley && window.Parley.__parley ? window.Parley.__parley : null;
	var index = registry ? registry.instances.length : 0;
	var uid = 'parley-' + index + '-' + Math.random().toString(36).slice(2, 8);

	var host = document.createElement('parley-widget');
	host.setAttribute('data-workstream', slug);
	var root = host.attachShadow({ mode: 'open' });
	root.innerHTML =
		'<style>' +
		CSS +
		'</style>' +
		'<button type="button" class="launcher" aria-expanded="false" aria-controls="' +
		uid +
		'" aria-label="Open chat">' +
		ICON_CHAT +
		'</button>' +
		'<div class="panel" id="' +
		uid +
		'" role="region" aria-label="' +
		DEFAULT_TITLE +
		'" hidden></div>';
	var launcher = root.querySelector('.launcher');
	var panel = root.querySelector('.panel');
	// A second widget on the same page sits left of the first instead of on top of it.
	host.style.setProperty('--parley-right', 20 + index * 72 + 'px');

	var state = {
		color: DEFAULT_COLOR,
		title: DEFAULT_TITLE,
		open: false,
		iframe: null,
		/** The widget in the iframe has said it listens (`parley:ready`). */
		ready: false,
		/** Messages for the iframe until it is ready. */
		outbox: [],
		/** A token given before the iframe exists: it goes in the iframe URL's hash. */
		token: null,
		/** Resolvers of logout() calls, answered by the widget's `parley:signed-out`. */
		signingOut: [],
		/** Agent messages the customer has not seen (`parley:unread`), shown on the launcher. */
		unread: 0
	};

	// Whether this visitor has a conversation with this workstream on this device, as the widget
	// last said (`parley:unread`'s `chat`). Kept in the host's storage: Parley's own storage is
	// in the iframe, which is what this decides whether to load.
	var CHAT_KEY = 'parley:chat:' + slug;
	function rememberChat(has) {
		try {
			if (has) window.localStorage.setItem(CHAT_KEY, '1');
			else window.localStorage.removeItem(CHAT_KEY);
		} catch {
			/* storage blocked: the chat then loads on the first open only */
		}
	}
	function hadChat() {
		try {
			return window.localStorage.getItem(CHAT_KEY) === '1';
		} catch {
			return false;
		}
	}

	function paint() {
		host.style.setProperty('--parley-color', state.color);
		host.style.setProperty('--parley-text', textOn(state.color));
	}
	paint();

	function mount() {
		if (host.isConnected) return;
		(document.body || document.documentElement).appendChild(host);
	}
	if (document.body) mount();
	else document.addEventListener('DOMContentLoaded', mount);

	function ensureFrame() {
		if (state.iframe) return state.iframe;
		var iframe = document.createElement('iframe');
		var src = origin + '/chat?workstream=' + encodeURIComponent(slug) + '&embed=1';
		// Created closed (preloaded, or for logout): what arrives is not *read* until shown.
		if (!state.open) src += '&hidden=1';
		// The widget reads #token= once and removes it from its history.
		if (state.token) src += '#token=' + encodeURIComponent(state.token);
		state.token = null;
		iframe.src = src;
		iframe.title = state.title;
		iframe.setAttribute('allow', 'clipboard-write');
		panel.appendChild(iframe);
		state.iframe = iframe;
		return iframe;
	}

	function post(message) {
		if (state.iframe && state.ready && state.iframe.contentWindow)
			state.iframe.contentWindow.postMessage(message, origin); // never '*': it may carry a token
		else state.outbox.push(message);
	}

	function renderLauncher() {
		var open = state.open;
		var n = state.unread;
		launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
		launcher.setAttribute(
			'aria-label',
			open
				? 'Close chat'
				: n > 0
					? 'Open chat, ' + n + ' unread message' + (n === 1 ? '' : 's')
					: 'Open chat'
		);
		launcher.innerHTML =
			(open ? ICON_CLOSE : ICON_CHAT) +
			(!open && n > 0
				? '<span class="badge" aria-hidden="true">' + (n > 99 ? '99+' : n) + '</span>'
				: '');
	}

	function setOpen(open, returnFocus) {
		state.open = open;
		if (open) ensureFrame();
		panel.hidden = !open;
		renderLauncher();
		if (state.iframe) post({ type: 'parley:visibility', open: open });
		if (!open && returnFocus) launcher.focus();
	}

	launcher.addEventListener('click', function () {
		setOpen(!state.open, false);
	});
	// Escape in the host page (focus on the launcher) closes the panel; inside the cross-origin
	// iframe the widget sends `parley:close` instead.
	root.addEventListener('keydown', function (e) {
		if (e.key === 'Escape' && state.open) {
			setOpen(false, true);
			e.stopPropagation();
		}
	});

	window.addEventListener('message', function (e) {
		// Only this widget's own iframe, from Parley's exact origin.
		if (!state.iframe || e.source !== state.iframe.contentWindow || e.origin !== origin) return;
		var data = e.data;
		if (!data || typeof data !== 'object' || typeof data.type !== 'string') return;
		if (data.type === 'parley:ready') {
			if (typeof data.title === 'string' && data.title.trim()) {
				state.title = data.title.trim().slice(0, 200);
				state.iframe.title = state.title;
				panel.setAttribute('aria-label', state.title);
			}
			state.color =
				typeof data.color === 'string' && HEX.test(data.color) ? data.color : DEFAULT_COLOR;
			paint();
			state.ready = true;
			var queued = state.outbox;
			state.outbox = [];
			queued.forEach(post);
		} else if (data.type === 'parley:close') {
			setOpen(false, true);
		} else if (data.type === 'parley:unread') {
			var count = typeof data.count === 'number' && data.count > 0 ? Math.floor(data.count) : 0;
			if (typeof data.chat === 'boolean') rememberChat(data.chat);
			if (count !== state.unread) {
				state.unread = count;
				renderLauncher();
			}
		} else if (data.type === 'parley:signed-out') {
			rememberChat(false);
			state.unread = 0;
			renderLauncher();
			var done = state.signingOut;
			state.signingOut = [];
			done.forEach(function (resolve) {
				resolve();
			});
		}
	});

	var instance = {
		slug: slug,
		origin: origin,
		setCustomerToken: function (token) {
			if (typeof token !== 'string' || !token)
				throw new TypeError('Parley.setCustomerToken needs a token string');
			if (state.iframe) post({ type: 'parley:token', token: token });
			else {
				state.token = token;
				preloadWhenIdle();
			}
		},
		logout: function () {
			state.token = null;
			// Forget the customer on this device now, even if the chat was never opened: the
			// widget keeps its session in Parley's storage, which only the iframe can clear.
			state.outbox = state.outbox.filter(function (m) {
				return m.type !== 'parley:token';
			});
			ensureFrame();
			return new Promise(function (resolve) {
				state.signingOut.push(resolve);
				post({ type: 'parley:logout' });
				setTimeout(resolve, 10000);
			});
		},
		open: function () {
			setOpen(true, false);
		},
		close: function () {
			setOpen(false, false);
		},
		isOpen: function () {
			return state.open;
		}
	};

	// ---------------------------------------------------------------- window.Parley

	if (!registry) {
		registry = { instances: [], waiting: [] };
		var pick = function (slugArg) {
			if (slugArg === undefined || slugArg === null) return registry.instances[0] || null;
			for (var i = 0; i < registry.instances.length; i++)
				if (registry.instances[i].slug === slugArg) return registry.instances[i];
			return null;
		};
		var call = function (method, args, slugArg) {
			var target = pick(slugArg);
			if (target) return target[method].apply(null, args);
			// That widget has not loaded yet: run the call when it does.
			registry.waiting.push({ method: method, args: args, slug: slugArg });
			return undefined;
		};
		var api = {
			__parley: registry,
			version: 1,
			/** The host's signed customer token (HS256 JWT), for the first widget or `slug`'s. */
			setCustomerToken: function (token, slugArg) {
				return call('setCustomerToken', [token], slugArg);
			},
			/** Forgets the customer on this device. Resolves once the widget has done it. */
			logout: function (slugArg) {
				return call('logout', [], slugArg) || Promise.resolve();
			},
			open: function (slugArg) {
				return call('open', [], slugArg);
			},
			close: function (slugArg) {
				return call('close', [], slugArg);
			},
			isOpen: function (slugArg) {
				var target = pick(slugArg);
				return target ? target.isOpen() : false;
			}
		};
		// Calls made before the script loaded: `window.Parley = window.Parley || { q: [] };
		// Parley.q.push(['setCustomerToken', token])`, and `window.ParleySettings = { token }`.
		var early = window.Parley && Array.isArray(window.Parley.q) ? window.Parley.q : [];
		window.Parley = api;
		var settings = window.ParleySettings;
		if (settings && typeof settings.token === 'string' && settings.token)
			registry.waiting.push({
				method: 'setCustomerToken',
				args: [settings.token],
				slug: settings.workstream
			});
		early.forEach(function (entry) {
			if (!entry || typeof entry[0] !== 'string' || typeof api[entry[0]] !== 'function') return;
			var args = Array.prototype.slice.call(entry, 1);
			var takesToken = entry[0] === 'setCustomerToken';
			registry.waiting.push({
				method: entry[0],
				args: takesToken ? args.slice(0, 1) : [],
				slug: takesToken ? args[1] : args[0]
			});
		});
	}

	// A visitor who has a conversation here, or a signed-in customer, gets the widget loaded
	// (hidden) once the page is idle: agent replies then show on the launcher, and the chat opens
	// at once. Everyone else loads it on the first open.
	var preloadQueued = false;
	function preloadWhenIdle() {
		if (preloadQueued || state.iframe || script.getAttribute('data-preload') === 'false') return;
		preloadQueued = true;
		var run = function () {
			var load = function () {
				if (!state.iframe) ensureFrame();
			};
			if (window.requestIdleCallback) window.requestIdleCallback(load, { timeout: 3000 });
			else setTimeout(load, 200);
		};
		if (document.readyState === 'complete') run();
		else window.addEventListener('load', run);
	}
	if (hadChat()) preloadWhenIdle();

	registry.instances.push(instance);
	// Run the calls waiting for this widget (or for any widget, if this is the first).
	var still = [];
	registry.waiting.forEach(function (w) {
		var mine =
			w.slug === undefined || w.slug === null
				? registry.instances[0] === instance
				: w.slug === slug;
		if (!mine) return still.push(w);
		try {
			instance[w.method].apply(null, w.args);
		} catch (err) {
			if (window.console) console.error('Parley.' + w.method + ':', err);
		}
	});
	registry.waiting = still;
})();

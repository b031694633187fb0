/**
 * Who is calling: agent sessions (an opaque cookie, stored hashed) and widget sessions
 * (a Parley-signed token in the `token` query parameter or a Bearer header).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../clock';
import type { Repo } from '../repo';
import { agentPrincipal, customerPrincipal, type Principal } from '../principal';
import { TokenError, verifyWidgetSession } from './tokens';

export const SESSION_COOKIE = 'parley_session';

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');

export function parseCookies(header: string | undefined): Record<string, string> {
	const out: Record<string, string> = {};
	for (const part of (header ?? '').split(';')) {
		const i = part.indexOf('=');
		if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
	}
	return out;
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

export class Sessions {
	constructor(
		private readonly repo: Repo,
		private readonly clock: Clock,
		private readonly widgetKey: Uint8Array,
		private readonly agentSessionMs: number
	) {}

	async createAgentSession(agentId: string): Promise<{ token: string; expiresAt: number }> {
		const token = randomBytes(32).toString('base64url');
		const now = this.clock.now();
		const expiresAt = now + this.agentSessionMs;
		await this.repo.db
			.insertInto('auth_sessions')
			.values({ id_hash: hash(token), agent_id: agentId, expires_at: expiresAt, created_at: now })
			.execute();
		return { token, expiresAt };
	}

	async endAgentSession(token: string) {
		await this.repo.db.deleteFrom('auth_sessions').where('id_hash', '=', hash(token)).execute();
	}

	/** Ends an agent's sessions on every other device (after a password change). */
	async endOtherAgentSessions(agentId: string, keepToken: string | undefined) {
		let q = this.repo.db.deleteFrom('auth_sessions').where('agent_id', '=', agentId);
		if (keepToken) q = q.where('id_hash', '!=', hash(keepToken));
		await q.execute();
	}

	async agentFromCookie(cookieHeader: string | undefined): Promise<AuthResult> {
		const token = parseCookies(cookieHeader)[SESSION_COOKIE];
		if (!token) return { ok: false, reason: 'not signed in' };
		const row = await this.repo.db
			.selectFrom('auth_sessions')
			.innerJoin('agents', 'agents.id', 'auth_sessions.agent_id')
			.select(['agents.id', 'agents.name', 'agents.role', 'auth_sessions.expires_at'])
			.where('auth_sessions.id_hash', '=', hash(token))
			.executeTakeFirst();
		if (!row || row.expires_at <= this.clock.now())
			return { ok: false, reason: 'session expired; sign in again' };
		return { ok: true, principal: agentPrincipal(row.id, row.name, row.role) };
	}

	async customerFromToken(token: string | null | undefined): Promise<AuthResult> {
		try {
			const claims = await verifyWidgetSession(token ?? '', this.widgetKey, this.clock.now());
			const customer = await this.repo.customerById(claims.customerId);
			if (!customer || customer.workstream_id !== claims.workstreamId)
				return { ok: false, reason: 'unknown customer' };
			return {
				ok: true,
				principal: customerPrincipal(customer.id, customer.name, customer.workstream_id)
			};
		} catch (e) {
			return { ok: false, reason: e instanceof TokenError ? e.message : 'invalid token' };
		}
	}

	/** A websocket or HTTP request: widget token first (query or Bearer), else the agent cookie. */
	async authenticate(req: IncomingMessage): Promise<AuthResult> {
		const url = new URL(req.url ?? '/', 'http://x');
		const bearer = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
		const token = url.searchParams.get('token') ?? bearer;
		if (token) return this.customerFromToken(token);
		return this.agentFromCookie(req.headers.cookie);
	}
}

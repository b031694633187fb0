// The demo host site's server side: it signs its signed-in customer's token with the
// persistent workstream's secret, as a real host site would.
import { loadConfig } from '../../../server/config';
import { signHostToken } from '../../../server/auth/tokens';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ url }) => {
	const raw = (url.searchParams.get('customer') ?? 'carla').trim().slice(0, 60) || 'carla';
	const id = raw.toLowerCase().replace(/[^a-z0-9_-]+/g, '-');
	const name = raw.charAt(0).toUpperCase() + raw.slice(1);
	const token = await signHostToken(
		loadConfig().demoWidgetSecret,
		{ sub: `demo-${id}`, name },
		{ now: Date.now(), ttlSeconds: 3600 }
	);
	return { customer: { id, name }, token };
};

// The demo host site's server side: it signs its signed-in customer's token with the
// persistent workstream's secret, as a real host site would (the same as the demo shop).
import { loadConfig } from '../../../server/config';
import { demoCustomer, signDemoCustomer } from '../../../server/demo-host';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ url }) => {
	const customer = demoCustomer(url.searchParams.get('customer'));
	const token = await signDemoCustomer(loadConfig().demoWidgetSecret, customer);
	return { customer, token };
};

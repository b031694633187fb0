/** Who is on the other end of a connection or request, as established by authentication. */
export type Principal =
	| {
			kind: 'customer';
			id: string;
			principal: `customer:${string}`;
			name: string;
			workstreamId: string;
	  }
	| {
			kind: 'agent';
			id: string;
			principal: `agent:${string}`;
			name: string;
			role: 'agent' | 'admin';
	  };

export const customerPrincipal = (id: string, name: string, workstreamId: string): Principal => ({
	kind: 'customer',
	id,
	principal: `customer:${id}`,
	name,
	workstreamId
});

export const agentPrincipal = (id: string, name: string, role: 'agent' | 'admin'): Principal => ({
	kind: 'agent',
	id,
	principal: `agent:${id}`,
	name,
	role
});

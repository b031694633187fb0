/**
 * Canned responses (templates) and the agent compose rule (SPEC A4, Webex's Livechat guide):
 * `<` and `>` are reserved for template parameters, so an agent's message may not contain them.
 * Parameters are replaced when a template is inserted; one with no value stays in the text as
 * `<name>`, where the compose rule stops it from being sent and says what to fill in.
 */
export const TEMPLATE_PARAMETERS = [
	'customer.name',
	'customer.email',
	'agent.name',
	'queue.name',
	'conversation.id'
] as const;
export type TemplateParameter = (typeof TEMPLATE_PARAMETERS)[number];
export type TemplateValues = Partial<Record<TemplateParameter, string | null | undefined>>;

const PARAM = /<([^<>\s]{1,40})>/g;

export interface Rendered {
	text: string;
	/** Parameters left in the text as `<name>`: no value here, or not a known parameter. */
	missing: string[];
}

/** Replaces every known parameter that has a value; leaves the rest visible as `<name>`. */
export function renderTemplate(text: string, values: TemplateValues): Rendered {
	const missing: string[] = [];
	const out = text.replace(PARAM, (whole, name: string) => {
		const value = (TEMPLATE_PARAMETERS as readonly string[]).includes(name)
			? values[name as TemplateParameter]
			: undefined;
		if (typeof value === 'string' && value.trim() !== '') return value;
		if (!missing.includes(name)) missing.push(name);
		return whole;
	});
	return { text: out, missing };
}

/** Parameters a template uses that Parley does not know (refused when an admin saves it). */
export function unknownParameters(text: string): string[] {
	const out: string[] = [];
	for (const [, name] of text.matchAll(PARAM))
		if (!(TEMPLATE_PARAMETERS as readonly string[]).includes(name) && !out.includes(name))
			out.push(name);
	return out;
}

/**
 * True if the text has a `<` or `>` that is not part of a `<parameter>`: an agent could never
 * send it (the compose rule), so a template must not have one.
 */
export function hasStrayBrackets(text: string): boolean {
	return /[<>]/.test(text.replace(PARAM, ''));
}

export type ComposeCheck = { ok: true } | { ok: false; code: 'reserved_chars'; message: string };

/** The agent compose rule: no `<` or `>`, with a message that says what to do instead. */
export function checkAgentText(text: string): ComposeCheck {
	if (!/[<>]/.test(text)) return { ok: true };
	const params = [...text.matchAll(PARAM)].map((m) => `<${m[1]}>`);
	const unique = [...new Set(params)];
	return {
		ok: false,
		code: 'reserved_chars',
		message:
			unique.length > 0
				? `Fill in ${unique.join(', ')} before sending: ${unique.length === 1 ? 'it has' : 'they have'} no value here.`
				: '< and > cannot be sent: they are reserved for template parameters.'
	};
}

export interface Template {
	id: string;
	name: string;
	text: string;
}

/** Templates whose name or text contains every word of the query (case-insensitive). */
export function searchTemplates<T extends Template>(templates: readonly T[], query: string): T[] {
	const words = query.toLowerCase().split(/\s+/).filter(Boolean);
	return templates.filter((t) => {
		const hay = `${t.name}\n${t.text}`.toLowerCase();
		return words.every((w) => hay.includes(w));
	});
}

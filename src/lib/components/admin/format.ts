/** Small formatters shared by the admin pages. */

/** "45 s", "1 min 20 s", "2 h 5 min", "3 d 4 h"; "—" for nothing to show. */
export function duration(ms: number | null | undefined): string {
	if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
	const total = Math.round(Math.max(0, ms) / 1000);
	if (total < 60) return `${total} s`;
	const s = total % 60;
	const m = Math.floor(total / 60) % 60;
	const h = Math.floor(total / 3600) % 24;
	const d = Math.floor(total / 86400);
	if (d > 0) return h ? `${d} d ${h} h` : `${d} d`;
	if (h > 0) return m ? `${h} h ${m} min` : `${h} h`;
	return s ? `${m} min ${s} s` : `${m} min`;
}

/** A moment as the admin's browser shows dates and times; "—" for none. */
export function when(ms: number | null | undefined): string {
	if (ms === null || ms === undefined) return '—';
	return new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

/** A number with at most `digits` decimals, or "—". */
export function num(v: number | null | undefined, digits = 2): string {
	if (v === null || v === undefined || !Number.isFinite(v)) return '—';
	return String(+v.toFixed(digits));
}

/** YYYY-MM-DD of a local date. */
export function isoDate(d: Date): string {
	const p = (n: number) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The browser's own IANA time zone, or UTC. */
export function browserZone(): string {
	try {
		return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
	} catch {
		return 'UTC';
	}
}

/** Every IANA zone the browser knows (for a datalist); empty when it cannot say. */
export function knownZones(): string[] {
	try {
		return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf(
			'timeZone'
		);
	} catch {
		return [];
	}
}

/** Copies text; resolves false when the clipboard is not available (the caller then selects it). */
export async function copyText(text: string): Promise<boolean> {
	try {
		if (!navigator.clipboard) return false;
		await navigator.clipboard.writeText(text);
		return true;
	} catch {
		return false;
	}
}

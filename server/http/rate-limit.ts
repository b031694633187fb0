/**
 * A fixed-window counter per key: at most `max` events per `windowMs`. Small and in-memory
 * (one instance); written by hand because it is a few lines and must run on the domain clock.
 */
export class RateLimiter {
	#windows = new Map<string, { start: number; count: number }>();

	constructor(
		private readonly max: number,
		private readonly windowMs: number
	) {}

	take(key: string, now: number): boolean {
		const w = this.#windows.get(key);
		if (!w || now - w.start >= this.windowMs) {
			if (this.#windows.size > 10_000) this.#sweep(now);
			this.#windows.set(key, { start: now, count: 1 });
			return true;
		}
		w.count++;
		return w.count <= this.max;
	}

	#sweep(now: number) {
		for (const [k, w] of this.#windows) if (now - w.start >= this.windowMs) this.#windows.delete(k);
	}
}

/**
 * Time as the server sees it. Everything time-based (timers, token expiry, stored times) goes
 * through a Clock so tests can move time by days without sleeping.
 */
export interface TimerHandle {
	cancel(): void;
}

export interface Clock {
	now(): number;
	setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
	now: () => Date.now(),
	setTimeout(fn, ms) {
		const t = setTimeout(fn, ms);
		t.unref?.();
		return { cancel: () => clearTimeout(t) };
	}
};

/** A clock that only moves when told to. Due timers run, in order, inside `advance`. */
export class ManualClock implements Clock {
	#now: number;
	#timers = new Map<number, { at: number; fn: () => void }>();
	#nextId = 1;

	constructor(start = Date.UTC(2026, 0, 5, 9, 0, 0)) {
		this.#now = start;
	}

	now() {
		return this.#now;
	}

	setTimeout(fn: () => void, ms: number): TimerHandle {
		const id = this.#nextId++;
		this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
		return { cancel: () => this.#timers.delete(id) };
	}

	advance(ms: number) {
		const target = this.#now + ms;
		for (;;) {
			let due: [number, { at: number; fn: () => void }] | undefined;
			for (const entry of this.#timers)
				if (entry[1].at <= target && (!due || entry[1].at < due[1].at)) due = entry;
			if (!due) break;
			this.#timers.delete(due[0]);
			this.#now = Math.max(this.#now, due[1].at);
			due[1].fn();
		}
		this.#now = target;
	}

	get pendingTimers() {
		return this.#timers.size;
	}
}

/**
 * Real time plus an offset that tests can move forward (`advance`), for server processes under
 * test (`PARLEY_TEST_CLOCK=ipc`): durable timers, which compare due times with `now()`, fire
 * as if the time had passed. In-process timers still wait real time.
 */
export class OffsetClock implements Clock {
	offset = 0;
	now() {
		return Date.now() + this.offset;
	}
	setTimeout(fn: () => void, ms: number): TimerHandle {
		return systemClock.setTimeout(fn, ms);
	}
	advance(ms: number) {
		this.offset += ms;
	}
}

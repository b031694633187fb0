/**
 * Background alerts for agents (SPEC A13): a desktop notification and a short tone when a new
 * offer or customer message arrives while the tab is hidden. The tone is synthesized with Web
 * Audio, so there is no sound file to ship or fail to load.
 */
const SOUND_KEY = 'parley:agent:sound';

export function soundPreference(): boolean {
	try {
		return localStorage.getItem(SOUND_KEY) !== 'off';
	} catch {
		return true;
	}
}

export function setSoundPreference(on: boolean) {
	try {
		localStorage.setItem(SOUND_KEY, on ? 'on' : 'off');
	} catch {
		// Private mode: the choice lasts for this page only.
	}
}

let audio: AudioContext | null = null;

export function playTone() {
	try {
		audio ??= new AudioContext();
		const osc = audio.createOscillator();
		const gain = audio.createGain();
		osc.frequency.value = 880;
		gain.gain.setValueAtTime(0.15, audio.currentTime);
		gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
		osc.connect(gain).connect(audio.destination);
		osc.start();
		osc.stop(audio.currentTime + 0.35);
	} catch {
		// No audio device or autoplay refused: the notification still shows.
	}
}

export function notificationPermission(): NotificationPermission | 'unsupported' {
	return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

export function notify(title: string, body: string, tag: string, onClick?: () => void) {
	if (notificationPermission() !== 'granted') return;
	const n = new Notification(title, { body, tag });
	n.onclick = () => {
		window.focus();
		onClick?.();
		n.close();
	};
}

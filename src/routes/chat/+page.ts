// The widget keeps its data in IndexedDB and talks over websockets: browser only.
export const ssr = false;

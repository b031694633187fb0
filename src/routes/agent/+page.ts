// The workspace keeps documents in IndexedDB and talks over websockets: browser only.
export const ssr = false;

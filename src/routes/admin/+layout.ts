// The console talks to the JSON API from the browser (cookies, same origin): browser only.
export const ssr = false;

// The survey link carries its token in the URL fragment, which only the browser sees.
export const ssr = false;

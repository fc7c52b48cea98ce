// The REST client of the pages: JSON in and out, the session cookie for authentication and
// the session's CSRF token on every state-changing request.

let csrfToken = null;
const listeners = new Set();

/** Sets the CSRF token (from the session answer). */
export function setCsrf(token) {
  csrfToken = token;
}

/** Calls fn() whenever a request finds the session gone (401). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

/** An error answer: status, parsed body and a message for people. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

function describe(status, body) {
  if (typeof body === 'string' && body) return body;
  if (body && typeof body === 'object') {
    if (typeof body.detail === 'string') return body.detail;
    if (typeof body.error === 'string') return body.error;
    if (Array.isArray(body)) return body.join(' ');
    const parts = Object.entries(body).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(' ') : v}`);
    if (parts.length) return parts.join('; ');
  }
  return `Request failed (${status})`;
}

/**
 * Calls the API. `query` is an object of query parameters (undefined/null/'' skipped);
 * an array value repeats the parameter; `body` is sent as JSON; `raw` returns the Response
 * (for CSV and images); `signal` aborts the request (an AbortController's).
 */
export async function api(path, { method = 'GET', query, body, raw = false, signal } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      // An array repeats the parameter (`status=ok&status=problem`).
      for (const x of Array.isArray(v) ? v : [v]) {
        if (x !== undefined && x !== null && x !== '') q.append(k, x);
      }
    }
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let r;
  try {
    r = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (x) {
    if (x && x.name === 'AbortError') throw x;
    // Network down or server restarting: a message people can act on.
    throw new ApiError(0, { detail: 'The server cannot be reached; check the connection and try again.' });
  }
  if (r.status === 401) listeners.forEach((fn) => fn());
  if (!r.ok) {
    let b = null;
    try { b = await r.json(); } catch { /* not JSON */ }
    throw new ApiError(r.status, b);
  }
  if (raw) return r;
  if (r.status === 204) return null;
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

/** Every item of a paginated list (`{count, next, results}`), up to `limit` items. */
export async function allPages(path, query = {}, limit = 10000) {
  const out = [];
  let page = 1;
  for (;;) {
    const r = await api(path, { query: { ...query, page, page_size: 100 } });
    if (Array.isArray(r)) return r;
    out.push(...r.results);
    if (!r.next || out.length >= limit) return out;
    page += 1;
  }
}

/** Whether an error is only an aborted request (a page left, a newer query sent). */
export function isAbort(x) {
  return Boolean(x) && x.name === 'AbortError';
}

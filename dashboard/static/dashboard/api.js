// The dashboard's only door to data: the public REST API, with the JWT access token and X-Team-Id
// on every call, exactly as a customer's script would send them.
//
// The access token lives in this module's memory only. The refresh token is an HttpOnly cookie the
// server sets (cookie session mode); refreshing is single-flight across tabs (Web Locks), and a new
// access token is shared with the other tabs of this browser over a BroadcastChannel.

export const config = JSON.parse(document.getElementById("gf-config").textContent);
const API = config.api;
const SESSION_HEADER = { "X-GhostFlow-Session": "cookie" };
const channel = "BroadcastChannel" in window ? new BroadcastChannel("gf-auth") : null;

let accessToken = null;
let accessExpiresAt = 0; // ms since epoch
let refreshTimer = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `The request failed (${status}).`);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || (status === 0 ? "network_error" : "error");
    this.fieldErrors = this.problem.errors || {};
  }
  get retryable() {
    return this.status === 0 || this.status >= 500;
  }
}

export function onAuthChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setAccess(token, expiresIn, { broadcast = true } = {}) {
  accessToken = token;
  accessExpiresAt = token ? Date.now() + expiresIn * 1000 : 0;
  clearTimeout(refreshTimer);
  if (token) {
    // Refresh a little before expiry, whichever tab gets there first.
    const delay = Math.max(5_000, expiresIn * 1000 - 45_000);
    refreshTimer = setTimeout(() => refresh().catch(() => {}), delay);
  }
  if (broadcast && channel) {
    channel.postMessage(token ? { type: "access", token, expiresAt: accessExpiresAt } : { type: "logout" });
  }
  listeners.forEach((listener) => listener(Boolean(token)));
}

if (channel) {
  channel.onmessage = ({ data }) => {
    if (data.type === "access" && data.expiresAt > accessExpiresAt) {
      setAccess(data.token, (data.expiresAt - Date.now()) / 1000, { broadcast: false });
    } else if (data.type === "logout") {
      setAccess(null, 0, { broadcast: false });
    }
  };
}

// An answer that carries a fresh access token (change-password): use it from now on.
export function adoptAccess(data) {
  setAccess(data.access_token, data.expires_in);
}

export function isSignedIn() {
  return Boolean(accessToken);
}

async function send(method, path, { body, team, query, headers = {}, auth = true } = {}) {
  const url = new URL(API + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const allHeaders = { Accept: "application/json", ...headers };
  if (body !== undefined) allHeaders["Content-Type"] = "application/json";
  if (auth && accessToken) allHeaders.Authorization = `Bearer ${accessToken}`;
  if (team) allHeaders["X-Team-Id"] = team;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: allHeaders,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, { detail: "The server could not be reached. Check your connection and retry." });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// One refresh at a time in this browser: a second tab waits for the first one's rotation instead
// of presenting the same (by then spent) refresh token, which would sign the user out.
let inflight = null;
export function refresh() {
  if (inflight) return inflight;
  const run = async () => {
    const started = Date.now();
    const work = async () => {
      // Another tab may have refreshed while this one waited for the lock.
      if (accessToken && accessExpiresAt - started > 60_000) return true;
      try {
        const data = await send("POST", "/auth/refresh", { headers: SESSION_HEADER, auth: false });
        setAccess(data.access_token, data.expires_in);
        return true;
      } catch (error) {
        if (error.status === 401 || error.status === 403) {
          setAccess(null, 0);
          return false;
        }
        throw error;
      }
    };
    return navigator.locks ? navigator.locks.request("gf-refresh", work) : work();
  };
  inflight = run().finally(() => {
    inflight = null;
  });
  return inflight;
}

// Step-up: an act that hands out power (keys, roles, members, invitations, integrations, deleting a
// team, the password) answers 403 `reauthentication_required` when this session signed in too long
// ago. The page registers how to ask for the password (app.js: a dialog); the request is then sent
// again, once. One question at a time: concurrent refusals wait for the same answer.
let askForPassword = null;
let asking = null;
export function onReauthenticationRequired(handler) {
  askForPassword = handler;
}

// `proof`: { password }, { code } (an authenticator app's or a recovery code) or { passkey }.
export function reauthenticate(proof) {
  return authorized("POST", "/auth/reauthenticate", { body: proof });
}

function confirmIdentity() {
  asking ||= Promise.resolve(askForPassword()).finally(() => {
    asking = null;
  });
  return asking;
}

export async function request(method, path, options = {}) {
  try {
    return await authorized(method, path, options);
  } catch (error) {
    const stepUp = error.status === 403 && error.code === "reauthentication_required";
    if (stepUp && askForPassword && (await confirmIdentity())) return authorized(method, path, options);
    throw error;
  }
}

async function authorized(method, path, options = {}) {
  if (options.auth !== false && !accessToken) await refresh();
  try {
    return await send(method, path, options);
  } catch (error) {
    const expired = error.status === 401 && ["token_expired", "token_invalid", "not_authenticated"].includes(error.code);
    if (expired && options.auth !== false && (await refresh())) return send(method, path, options);
    throw error;
  }
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, body, options = {}) => request("POST", path, { ...options, body }),
  patch: (path, body, options = {}) => request("PATCH", path, { ...options, body }),
  put: (path, body, options = {}) => request("PUT", path, { ...options, body }),
  delete: (path, options) => request("DELETE", path, options),
};

// A sign-in answer: the session (null), or, for an account with two-step verification, the
// pending state ({ second_factor_required, ticket, methods }) for completeSecondFactor.
function signedIn(data) {
  if (data.second_factor_required) return data;
  setAccess(data.access_token, data.expires_in);
  return null;
}

export async function login(username, password) {
  const data = await send("POST", "/auth/login", {
    body: { username, password },
    headers: SESSION_HEADER,
    auth: false,
  });
  return signedIn(data);
}

// `proof`: { code } or { passkey: { ceremony, credential } }.
export async function completeSecondFactor(ticket, proof) {
  const data = await send("POST", "/auth/second-factor", { body: { ticket, ...proof }, headers: SESSION_HEADER, auth: false });
  setAccess(data.access_token, data.expires_in);
}

// A passkey alone (its options from POST /auth/passkey/options, signed by the browser).
export async function signInWithPasskey(answer) {
  const data = await send("POST", "/auth/passkey", { body: answer, headers: SESSION_HEADER, auth: false });
  setAccess(data.access_token, data.expires_in);
}

export async function logout() {
  try {
    await send("POST", "/auth/logout", { headers: SESSION_HEADER, auth: false });
  } finally {
    setAccess(null, 0);
  }
}

export async function signInWithGoogle(credential) {
  const data = await send("POST", "/auth/google", { body: { credential }, headers: SESSION_HEADER, auth: false });
  return signedIn(data);
}

// Public endpoints (no credential).
export const publicApi = {
  post: (path, body) => send("POST", path, { body, auth: false }),
};

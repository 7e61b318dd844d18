// Passkeys in the browser: the server's options (WebAuthn's JSON forms) to
// navigator.credentials.create / get, and the answer back as JSON.
//
// Browsers that have PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON
// and credential.toJSON() (Chromium 129+, Firefox 119+, Safari 18.4+) do it themselves; for older
// ones the few base64url fields are converted here (a dozen lines rather than a library: these
// conversions are all the WebAuthn JSON forms add).

export const passkeysSupported = () => typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

const toBytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
const toText = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const descriptors = (list) => (list || []).map((item) => ({ ...item, id: toBytes(item.id) }));

function creationOptions(json) {
  if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  return { ...json, challenge: toBytes(json.challenge), user: { ...json.user, id: toBytes(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials) };
}

function requestOptions(json) {
  if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  return { ...json, challenge: toBytes(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

function asJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const response = credential.response;
  const out = { id: credential.id, rawId: toText(credential.rawId), type: credential.type,
    clientExtensionResults: credential.getClientExtensionResults(), authenticatorAttachment: credential.authenticatorAttachment,
    response: { clientDataJSON: toText(response.clientDataJSON) } };
  if (response.attestationObject) {
    out.response.attestationObject = toText(response.attestationObject);
    out.response.transports = response.getTransports ? response.getTransports() : [];
  } else {
    out.response.authenticatorData = toText(response.authenticatorData);
    out.response.signature = toText(response.signature);
    if (response.userHandle) out.response.userHandle = toText(response.userHandle);
  }
  return out;
}

// The browser's answer to a ceremony's options, as { ceremony, credential } for the API.
export async function createPasskey({ options, ceremony }) {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
  return { ceremony, credential: asJSON(credential) };
}

export async function usePasskey({ options, ceremony }) {
  const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
  return { ceremony, credential: asJSON(credential) };
}

// A cancelled or timed-out browser prompt, in words a person understands.
export function passkeyError(error) {
  if (error && error.name === "NotAllowedError") return "The passkey prompt was cancelled or timed out.";
  if (error && error.name === "InvalidStateError") return "This device already holds a passkey for your account.";
  return error && error.message ? error.message : "The passkey did not work.";
}

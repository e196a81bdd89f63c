// Talking to the exporter's JSON API, from the page's own origin only.
//
// The page serves one cluster: the `cluster` parameter of its own address
// (`/ui?cluster=prod`), when there is one, goes into every API call and the /metrics
// link, so that one exporter watching several clusters can show any of them.

const own = new URLSearchParams(location.search);
const cluster = own.has("cluster") ? own.get("cluster") : null;

/** `path` with the page's `cluster` parameter appended, if the page has one. */
export function withCluster(path) {
  if (cluster === null) return path;
  const separator = path.includes("?") ? "&" : "?";
  return `${path}${separator}cluster=${encodeURIComponent(cluster)}`;
}

/** The page's own `cluster` parameter, or null. */
export function clusterParameter() {
  return cluster;
}

/**
 * GET one API path, for the page's cluster unless `perCluster` is false (paths about
 * all clusters refuse the parameter). Never throws: the answer is `{ok, status, data,
 * error, timestamp}`, where `error` is the API's `{code, message}` or one made up for
 * a network failure or a body that is not the API's envelope.
 */
export async function getJson(path, perCluster = true) {
  let response;
  try {
    const url = perCluster ? withCluster(path) : path;
    response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    return failed(0, "exporter_unreachable", `the exporter did not answer (${e.message})`);
  }
  let body;
  try {
    body = await response.json();
  } catch (e) {
    return failed(response.status, "bad_answer", `HTTP ${response.status}, not JSON`);
  }
  if (body && body.status === "success") {
    return { ok: true, status: response.status, data: body.data, timestamp: body.timestamp };
  }
  const error = (body && body.error) || { code: "bad_answer", message: `HTTP ${response.status}` };
  return { ok: false, status: response.status, error };
}

function failed(status, code, message) {
  return { ok: false, status, error: { code, message } };
}

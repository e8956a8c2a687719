export interface HttpJsonResponse {
  readonly status: number;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  readonly body: unknown;
  /** Response headers, names lowercased. */
  readonly headers: Record<string, string>;
}

/**
 * Sends one HTTP request with global fetch, `body` (when given) serialised as JSON, and returns
 * status, body and headers. Never throws on a non-2xx status; throws only when no response came.
 */
export async function httpJson(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpJsonResponse> {
  const requestHeaders: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) {
    requestHeaders['content-type'] = 'application/json';
  }
  const response = await fetch(url, {
    method: method.toUpperCase(),
    headers: { ...requestHeaders, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: parseBody(text),
    headers: Object.fromEntries(response.headers.entries()),
  };
}

function parseBody(text: string): unknown {
  if (text === '') {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

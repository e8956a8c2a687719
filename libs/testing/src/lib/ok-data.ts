/** A socket reply as the nodes send it: `{ ok: true, data }` or `{ ok: false, error }`. */
export type OkOrError<T> =
  { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

/** The reply's data; throws with the error's code and message when the reply is an error. */
export function okData<T>(reply: OkOrError<T>): T {
  if (!reply.ok) throw new Error(`expected ok, got ${reply.error.code}: ${reply.error.message}`);
  return reply.data;
}

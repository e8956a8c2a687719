/** A one-line, human-readable reason for any thrown value (including AggregateError). */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = error.errors.map(describeError).join('; ');
    return error.message ? `${error.message} (${inner})` : inner;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || error.name;
    const withCode =
      typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
    return error.cause === undefined
      ? withCode
      : `${withCode} (cause: ${describeError(error.cause)})`;
  }
  if (typeof error === 'string') {
    return error;
  }
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/**
 * A request's URL as it may be logged: the token of a manage or sign-in link signs a donor in,
 * so it never reaches a log line (the request log, the error log, anywhere a path is written).
 */
export function redactUrl(url: string): string {
  return url.replace(/^(\/account\/(?:manage|sign-in)\/)[^/?#]+/, '$1…');
}

import { request as httpRequest } from 'node:http';

/** What a raw HTTP exchange returned: status, headers as node:http gives them, the body as text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request over a fresh connection to 127.0.0.1. node:http sends the path exactly as
 * given, where fetch would normalise `..` and percent-escapes: the path-trick cases need that.
 */
export function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The node's attack surface, derived rather than copied, so a test that walks it cannot
 * silently miss a route, frame or command added later:
 *
 * - client frame and command types: the protocol's schemas (protocol/schema), and which
 *   of them the node's frame check takes (asked of `checkFrame`, not read from its source);
 * - HTTP routes: the OpenAPI document a node serves at /docs/json, and every route the
 *   Fastify instance has (hidden ones, such as the WebSocket upgrades, included).
 */
import { checkFrame } from '../../engine/node/schemas.js';
import { ClientFrame, Command } from '../../protocol/schema/index.js';

const literalTypes = (union: { anyOf: Array<{ properties: { type: { const?: unknown } } }> }): string[] =>
  union.anyOf.map((member) => {
    const type = member.properties.type.const;
    if (typeof type !== 'string') throw new Error('a union member without a literal type: update test/helpers/protocol-surface.ts');
    return type;
  });

/** The `type` of every member of the protocol's `ClientFrame` schema. */
export function declaredClientFrameTypes(): string[] {
  return literalTypes(ClientFrame);
}

/** The `type` of every member of the protocol's `Command` schema. */
export function declaredCommandTypes(): string[] {
  return literalTypes(Command);
}

/** Of `candidates`, the frame types the node's frame check knows (anything but `unknown_command`). */
export function acceptedClientFrameTypes(candidates: string[] = declaredClientFrameTypes()): string[] {
  return candidates.filter((type) => {
    const check = checkFrame({ type });
    return check.ok || check.code !== 'unknown_command';
  });
}

/** Of `candidates`, the command types the node's frame check knows. */
export function acceptedCommandTypes(candidates: string[] = declaredCommandTypes()): string[] {
  return candidates.filter((type) => {
    const check = checkFrame({ type: 'command', id: 'c', command: { type } });
    return check.ok || check.code !== 'unknown_command';
  });
}

/** A route of the OpenAPI document. */
export interface OpenApiRoute {
  /** `METHOD /path/{param}`, the key tables are kept by. */
  key: string;
  method: string;
  path: string;
  operation: OpenApiOperation;
}

export interface OpenApiOperation {
  summary?: string;
  parameters?: Array<{ name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: Record<string, unknown> }>;
  requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> };
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every operation of an OpenAPI document (HEAD, which Fastify adds to each GET, left out). */
export function openApiRoutes(doc: { paths?: Record<string, Record<string, OpenApiOperation>> }): OpenApiRoute[] {
  const routes: OpenApiRoute[] = [];
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(ops)) {
      if (!METHODS.includes(method)) continue;
      routes.push({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, operation });
    }
  }
  return routes.sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * Every route a Fastify instance serves, as `METHOD /path/{param}` (OpenAPI spelling),
 * HEAD left out. Read from `printRoutes()`, the one public listing Fastify offers.
 */
export function fastifyRoutes(app: { printRoutes(opts?: { commonPrefix?: boolean }): string }): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│   |    )*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (method !== 'HEAD') out.push(`${method} ${path}`);
    }
  }
  return out.sort();
}

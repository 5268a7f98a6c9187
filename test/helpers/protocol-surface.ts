/**
 * The node's attack surface, derived rather than copied, so a test that walks it cannot
 * silently miss a route, frame or command added later:
 *
 * - client frame types: the `ClientFrame` union of protocol/frames.ts (the declared
 *   protocol) and the keys of the frame schemas in engine/node/schemas.ts (what the node
 *   actually accepts), both read with the TypeScript parser;
 * - command types: `COMMAND_TYPES` of the protocol and the command schemas' keys;
 * - HTTP routes: the OpenAPI document a node serves at /docs/json, and every route the
 *   Fastify instance has (hidden ones, such as the WebSocket upgrades, included).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function parse(relative: string): ts.SourceFile {
  const file = ROOT + relative;
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

function findTypeAlias(source: ts.SourceFile, name: string): ts.TypeAliasDeclaration {
  let found: ts.TypeAliasDeclaration | undefined;
  source.forEachChild((n) => {
    if (ts.isTypeAliasDeclaration(n) && n.name.text === name) found = n;
  });
  if (!found) throw new Error(`type ${name} not found in ${source.fileName}: update test/helpers/protocol-surface.ts`);
  return found;
}

function findObjectLiteral(source: ts.SourceFile, variable: string): ts.ObjectLiteralExpression {
  let found: ts.ObjectLiteralExpression | undefined;
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === variable && n.initializer) {
      let init: ts.Expression = n.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
      if (ts.isObjectLiteralExpression(init)) found = init;
    }
    n.forEachChild(visit);
  };
  visit(source);
  if (!found) throw new Error(`object ${variable} not found in ${source.fileName}: update test/helpers/protocol-surface.ts`);
  return found;
}

function keysOf(object: ts.ObjectLiteralExpression): string[] {
  return object.properties.map((p) => {
    if (!p.name || !(ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) throw new Error(`unexpected key in ${p.getText()}`);
    return p.name.text;
  });
}

/** The `type` of every member of the `ClientFrame` union in protocol/frames.ts. */
export function declaredClientFrameTypes(): string[] {
  const alias = findTypeAlias(parse('protocol/frames.ts'), 'ClientFrame');
  const members = ts.isUnionTypeNode(alias.type) ? alias.type.types : [alias.type];
  return members.map((m) => {
    if (!ts.isTypeLiteralNode(m)) throw new Error(`ClientFrame member is not a type literal: ${m.getText()}`);
    const prop = m.members.find((x) => ts.isPropertySignature(x) && x.name.getText() === 'type') as ts.PropertySignature | undefined;
    if (!prop?.type || !ts.isLiteralTypeNode(prop.type) || !ts.isStringLiteral(prop.type.literal)) throw new Error(`ClientFrame member without a literal type: ${m.getText()}`);
    return prop.type.literal.text;
  });
}

/** Frame types the node validates (the keys of `frameSchemas` in engine/node/schemas.ts). */
export function acceptedClientFrameTypes(): string[] {
  return keysOf(findObjectLiteral(parse('engine/node/schemas.ts'), 'frameSchemas'));
}

/** Command types the node validates (the keys of `commandSchemas` in engine/node/schemas.ts). */
export function acceptedCommandTypes(): string[] {
  return keysOf(findObjectLiteral(parse('engine/node/schemas.ts'), 'commandSchemas'));
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

// The HealthSync API client: openapi-fetch over the types openapi-typescript generated from the
// committed OpenAPI document (src/schema.ts; `npm run generate` after `healthsync generate --write`).
// Every path, parameter, body and answer is typed from the document, so a renamed or retyped field
// is a compile error in the app, not a surprise at run time.
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

/** A schema of the document by name: `Schema<"ChatMessage">`. */
export type Schema<N extends keyof components["schemas"]> = components["schemas"][N];

/** The success envelope's `data` of an operation's answer with `status`. */
export type Data<O extends keyof operations, S extends keyof operations[O]["responses"]> =
  operations[O]["responses"][S] extends { content: { "application/json": { data: infer D } } } ? D : never;

export type HealthSyncClient = Client<paths>;

/**
 * A client for `baseUrl` (the Functions host's origin, e.g. `https://api.example.com`); `token`
 * gives the current access token, sent as `Authorization: Bearer` when there is one.
 */
export function createHealthSyncClient(baseUrl: string, token?: () => string | undefined): HealthSyncClient {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request }) {
      const t = token?.();
      if (t !== undefined && !request.headers.has("Authorization")) {
        request.headers.set("Authorization", `Bearer ${t}`);
      }
      return request;
    },
  };
  client.use(auth);
  return client;
}

import createClient from "openapi-fetch";
import type { components, paths } from "./schema"; // npx openapi-typescript http://127.0.0.1:8000/openapi.json -o schema.d.ts

type UnitPage = components["schemas"]["UnitPage"];
type Problem = components["schemas"]["Problem"];

// Our two media types: answers are application/json, errors application/problem+json.
const api = createClient<paths, "application/json" | "application/problem+json">({
  baseUrl: "http://127.0.0.1:8000",
  headers: { Authorization: "Bearer ...", "Accept-Language": "vi" },
});

export async function allUnits(): Promise<string[]> {
  const codes: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const { data, error, response } = await api.GET("/api/v1/units", { params: { query: { limit: 100, cursor } } });
    if (error) {
      const problem: Problem = error;
      throw new Error(`${problem.status} ${problem.title}: ${problem.detail}`);
    }
    const page: UnitPage = data; // a page, not `UnitPage | string`
    codes.push(...page.items.map((u) => u.code));
    console.log(response.headers.get("Link"));
    if (!page.next_cursor) return codes;
    cursor = page.next_cursor;
  }
}

export async function submit(id: number, etag: string) {
  const { data, error } = await api.POST("/api/v1/budget-submissions/{id}/submit", {
    params: { path: { id }, header: { "If-Match": etag, "Idempotency-Key": crypto.randomUUID() } },
  });
  if (error) return error.detail;
  const actions: ("submit" | "withdraw" | "return" | "forward" | "appraise" | "approve" | "reject")[] =
    data.allowed_actions;
  return data.status satisfies components["schemas"]["BudgetStatus"] ? actions : [];
}

// Without the media types, every list answer is typed `UnitPage | string` (the CSV export):
const loose = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });
export async function loosely() {
  const { data } = await loose.GET("/api/v1/units");
  // @ts-expect-error the CSV branch: string is not a page
  const page: UnitPage = data!;
  return page;
}

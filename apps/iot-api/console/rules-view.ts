import * as rest from "./api";
import { ruleScope } from "./alarms";
import { $, el } from "./dom";
import { ago } from "./values";

/** The rules page: each rule's latest version and how it last went (GET /api/v1/rules); editing is the API's. */
export async function openRules() {
  const rules = await rest.rules();
  $("rule-count").textContent = `${rules.length}`;
  $("rules")
    .querySelector("tbody")!
    .replaceChildren(
      ...rules.map((rule) =>
        el("tr", { "data-rule": rule.id }, [
          el("td", { class: "mono" }, [rule.id]),
          el("td", {}, [rule.name]),
          el("td", { class: "count" }, [String(rule.version)]),
          el("td", {}, [rule.enabled ? "enabled" : "disabled"]),
          el("td", {}, [ruleScope(rule)]),
          el("td", { class: "count" }, [String(rule.status.devices)]),
          el("td", { title: rule.status.evaluatedAt ?? "" }, [ago(rule.status.evaluatedAt)]),
          el("td", { class: "count" }, [String(rule.status.activeAlarms)]),
          el("td", { class: "error" }, [rule.status.lastError ?? ""]),
        ]),
      ),
    );
}

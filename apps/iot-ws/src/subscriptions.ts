/** What one subscribe message asked for; null = any. */
export interface Filter {
  devices: Set<string> | null;
  vendors: Set<string> | null;
  kinds: Set<string> | null;
}

export interface Lists {
  devices?: string[];
  vendors?: string[];
  kinds?: string[];
}

export interface Delivery {
  deviceId: string;
  vendor: string;
  kind: string;
}

const MAX_FILTERS = 100;
const toSet = (list?: string[]) => (list ? new Set(list) : null);

/**
 * A client's subscriptions: each subscribe adds a filter; a message is delivered once if any filter
 * takes it. Unsubscribe removes the named devices, vendors or kinds from every filter (a filter left
 * empty goes), or everything when it names nothing.
 */
export class Subscriptions {
  private filters: Filter[] = [];

  add(lists: Lists): boolean {
    if (this.filters.length >= MAX_FILTERS) return false;
    this.filters.push({ devices: toSet(lists.devices), vendors: toSet(lists.vendors), kinds: toSet(lists.kinds) });
    return true;
  }

  remove(lists: Lists): void {
    if (!lists.devices && !lists.vendors && !lists.kinds) {
      this.filters = [];
      return;
    }
    this.filters = this.filters.filter((filter) => {
      for (const key of ["devices", "vendors", "kinds"] as const) {
        const names = lists[key];
        const set = filter[key];
        if (!names) continue;
        if (set === null) return false; // "any" minus something named: the client no longer wants this filter
        for (const name of names) set.delete(name);
        if (set.size === 0) return false;
      }
      return true;
    });
  }

  matches(delivery: Delivery): boolean {
    for (const f of this.filters) {
      if (
        (f.devices === null || f.devices.has(delivery.deviceId)) &&
        (f.vendors === null || f.vendors.has(delivery.vendor)) &&
        (f.kinds === null || f.kinds.has(delivery.kind))
      ) {
        return true;
      }
    }
    return false;
  }

  get size(): number {
    return this.filters.length;
  }
}

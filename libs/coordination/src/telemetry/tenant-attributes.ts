import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { SHARED_TENANT } from '../keys/key-builder.js';
import type { MetricLabels } from '../metrics/metrics-registry.js';
import type { ResolvedTelemetryOptions } from '../options/resolve-options.js';

/** The attribute value that stands for every tenant a policy does not name. */
export const OTHER_TENANT = '_other';

/** The attribute value that stands for every value of an attribute past its first MAX_ATTRIBUTE_VALUES. */
export const OTHER_VALUE = '_other';

/**
 * Distinct values each attribute other than `tenant` keeps per metric (per meter provider: per
 * process in an application); later values are exported as `_other`. Policy names, streams,
 * groups, tasks, jobs, channels and handlers come from code or configuration, so 100 is far above
 * what an application names; a name built from request data (a policy named after a user, a
 * default policy name `<limit>-per-<windowMs>ms` of per-user limits) cannot create a series per
 * request. Each distinct value is a series the SDK keeps for the life of the process.
 *
 * @example
 * // the 101st stream name a process sees:
 * // coordination_streams_delivered_total{stream="_other",group="billing"}
 */
export const MAX_ATTRIBUTE_VALUES = 100;

const TENANT_LABEL = 'tenant';

/**
 * The values each attribute of each metric was given so far, first come first kept, shared by
 * the modules on one meter provider (see MAX_ATTRIBUTE_VALUES).
 *
 * @example
 * const budget = new AttributeValueBudget(2);
 * budget.value('ratelimit_denied_total', 'policy', 'a'); // 'a'
 * budget.value('ratelimit_denied_total', 'policy', 'b'); // 'b'
 * budget.value('ratelimit_denied_total', 'policy', 'c'); // '_other'
 */
export class AttributeValueBudget {
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly max = MAX_ATTRIBUTE_VALUES) {}

  /** `value`, or `_other` once `max` other values of this metric's attribute were seen. */
  value(metric: string, attribute: string, value: AttributeValue, max = this.max): AttributeValue {
    const id = `${metric}\u0000${attribute}`;
    let values = this.seen.get(id);
    if (values === undefined) this.seen.set(id, (values = new Set()));
    const text = String(value);
    if (values.has(text)) return value;
    if (values.size >= max) return OTHER_VALUE;
    values.add(text);
    return value;
  }
}

/**
 * Turns the labels of one registry series into OpenTelemetry attributes, once per series (never
 * per observation). The `tenant` label follows `telemetry.tenantAttribute`:
 * - `'all'`: the first `maxTenantValues` distinct tenants seen (in `seen`, shared by the modules
 *   on one meter provider, so per process in an application) keep their value; later ones are
 *   `_other`;
 * - `'none'`: the `tenant` attribute is dropped (series that differed only by tenant add up);
 * - a list: listed tenants keep their value, others are `_other`.
 * `_shared` (data of no tenant) keeps its value except under `'none'`, and costs no slot. A
 * series that does not `claim` a slot (a catalogue entry with `tenants: 'scanned'`, such as
 * `sessions_active`: its tenants come from a scan of the whole keyspace, not from the tenants
 * this process served) keeps a tenant that holds a slot, and otherwise draws on a budget of
 * `maxTenantValues` tenants of its own metric, so a scan never fills the slots the tenants this
 * process serves would get.
 * Every other label keeps its first MAX_ATTRIBUTE_VALUES values per metric (`values`, shared like
 * `seen`); later ones are `_other`.
 *
 * @example
 * const policy = new TenantAttributePolicy({ ...telemetry, tenantAttribute: ['acme'] }, new Set());
 * policy.attributes('tasks_enqueued_total', { task: 'mail', tenant: 'globex' }); // { task: 'mail', tenant: '_other' }
 */
export class TenantAttributePolicy {
  private readonly listed: ReadonlySet<string> | undefined;

  constructor(
    private readonly options: Pick<ResolvedTelemetryOptions, 'tenantAttribute' | 'maxTenantValues'>,
    private readonly seen: Set<string>,
    private readonly values = new AttributeValueBudget(),
  ) {
    this.listed = Array.isArray(options.tenantAttribute) ? new Set(options.tenantAttribute) : undefined;
  }

  /** How many tenants have a slot: a series that claimed none may get its tenant back once this grew. */
  get tenantSlotsTaken(): number {
    return this.seen.size;
  }

  attributes(metric: string, labels: MetricLabels, claim = true): Attributes {
    const attributes: Attributes = {};
    for (const [name, value] of Object.entries(labels)) {
      if (name !== TENANT_LABEL) attributes[name] = this.values.value(metric, name, value);
      else if (this.options.tenantAttribute !== 'none') attributes[name] = this.tenant(metric, String(value), claim);
    }
    return attributes;
  }

  private tenant(metric: string, tenant: string, claim: boolean): AttributeValue {
    if (tenant === SHARED_TENANT) return tenant;
    if (this.listed) return this.listed.has(tenant) ? tenant : OTHER_TENANT;
    if (this.seen.has(tenant)) return tenant;
    if (!claim) return this.values.value(metric, TENANT_LABEL, tenant, this.options.maxTenantValues);
    if (this.seen.size >= this.options.maxTenantValues) return OTHER_TENANT;
    this.seen.add(tenant);
    return tenant;
  }
}

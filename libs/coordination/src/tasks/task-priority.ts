/**
 * Priorities and fairness tags, shared by both backends.
 *
 * Public priority: an integer in [-10, 10], higher runs first. Fairness: each (task name, tenant)
 * keeps a tag counter; a task gets the next tag of its tenant, and the counter starts again at 1
 * once the tenant has no task waiting (none enqueued and not yet started). Among tasks of equal
 * priority, lower tags start first: the n-th waiting task of each tenant goes before the (n+1)-th
 * of any, so a tenant that enqueues 10 000 tasks does not delay one that enqueues 10 after it by
 * more than about 10 tasks per tenant. Within a tenant tags only grow, so its tasks keep their order.
 *
 * On the redis driver the pair becomes one BullMQ priority (lower runs first in BullMQ):
 * `(PRIORITY_MAX - priority) * TAG_SPAN + tag`, at most 20 * 65_536 + 65_535 < 2^21 (BullMQ's
 * limit). A tenant with more than TAG_LIMIT tasks waiting gets TAG_LIMIT for the rest: they keep
 * their order (BullMQ is FIFO within a priority) and share the last fairness rank.
 */
export const PRIORITY_MIN = -10;
export const PRIORITY_MAX = 10;
export const TAG_SPAN = 65_536;
export const TAG_LIMIT = TAG_SPAN - 1;

/**
 * @example
 * bullPriority(10, 1);  // 1: the most urgent task, first of its tenant
 * bullPriority(0, 3);   // 655_363
 */
export function bullPriority(priority: number, tag: number): number {
  return (PRIORITY_MAX - priority) * TAG_SPAN + Math.min(Math.max(tag, 1), TAG_LIMIT);
}

/**
 * The public priority of a BullMQ priority made by bullPriority.
 *
 * @example
 * priorityOf(bullPriority(-3, 17)); // -3
 */
export function priorityOf(bull: number): number {
  return PRIORITY_MAX - Math.floor(bull / TAG_SPAN);
}

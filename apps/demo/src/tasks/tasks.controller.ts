import { Controller, Get, Query } from '@nestjs/common';
import { TaskService, type TaskDefinition, type TaskInfo } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { AGENT_STEP } from '../crews/agent-step.task.js';
import { DEFAULT_RECENT_TASKS, TasksQuery } from './tasks.query.js';

/**
 * The task names of the demo, as `GET /tasks` shows them.
 *
 * @example
 * for (const { name } of DEMO_TASKS) console.log(name, await tasks.depth(name, { tenant: 'acme' }));
 */
export const DEMO_TASKS: readonly TaskDefinition[] = [AGENT_STEP];

/**
 * One task name of the company's queue: how many of its tasks wait for their first start (`depth`:
 * `TaskService.depth`, waiting or delayed) and its most recently enqueued tasks in any state.
 *
 * @example
 * const { depth, recent } = (await request(app).get('/tasks').set(ADA)).body.queues[0] as TaskQueueView;
 */
export interface TaskQueueView {
  name: string;
  depth: number;
  recent: TaskInfo[];
}

/** `GET /tasks`: the caller's company's task queue (`TaskService.depth` and `list`, scoped to the company). */
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TaskService) {}

  /**
   * Per task name of the demo, the company's queue depth and its newest `?limit=` tasks (default
   * 20) with their state, attempts, progress, result or failure reason. Another company's tasks
   * are never listed: the queue is shared, the tenant is not.
   */
  @Get()
  async queues(@CurrentUser() user: AuthUser, @Query() query: TasksQuery): Promise<{ queues: TaskQueueView[] }> {
    const tenant = user.companyId;
    const limit = query.limit ?? DEFAULT_RECENT_TASKS;
    const queues = await Promise.all(DEMO_TASKS.map(async ({ name }) => ({
      name,
      depth: await this.tasks.depth(name, { tenant }),
      recent: await this.tasks.list(name, { tenant, limit }),
    })));
    return { queues };
  }
}

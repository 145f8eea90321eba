import { Module } from '@nestjs/common';
import { TasksController } from './tasks.controller.js';

/** The task queue view of the demo (`GET /tasks`); the tasks themselves are crew runs' agent steps (CrewsModule). */
@Module({ controllers: [TasksController] })
export class TasksModule {}

import { ArgsType, Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { MAX_RUNS_PAGE } from '../dto/crew-runs.query.js';
import { MAX_RUN_MS } from '../dto/run-crew.query.js';

/** One finished run of a crew, as `crewRuns` lists it (the `CrewRun` of `GET /crews/:crewId/runs`). */
@ObjectType('CrewRun')
export class CrewRunType {
  @Field(() => ID) id!: string;
  /** `succeeded`, `failed` or `aborted`. */
  @Field() status!: string;
  @Field() startedAt!: string;
  @Field({ nullable: true }) finishedAt?: string;
  @Field() triggeredBy!: string;
  /** The fencing token of the crew's lock the run held (a large integer: Float, exact below 2^53). */
  @Field(() => Float, { nullable: true }) fencingToken?: number;
}

/** What `runCrew` answers: the run that ran to its end, and its crew. */
@ObjectType('CrewRunResult')
export class CrewRunResultType extends CrewRunType {
  @Field() crewId!: string;
  /** Why a `failed` run failed. */
  @Field({ nullable: true }) reason?: string;
}

/** Arguments of `crewRuns(crewId, limit)`. */
@ArgsType()
export class CrewRunsArgs {
  @Field() @IsString() @Length(1, 100) crewId!: string;
  /** Most runs to return, newest first: 1-100, default 20. */
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(1) @Max(MAX_RUNS_PAGE) limit?: number;
}

/** Arguments of `runCrew(crewId, durationMs)`. */
@ArgsType()
export class RunCrewArgs {
  @Field() @IsString() @Length(1, 100) crewId!: string;
  /** How long each agent "works" (each attempt of its step), 0-30000 ms, default 2000. */
  @Field(() => Int, { nullable: true }) @IsOptional() @IsInt() @Min(0) @Max(MAX_RUN_MS) durationMs?: number;
}

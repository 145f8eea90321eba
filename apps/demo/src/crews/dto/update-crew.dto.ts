import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsNumber, IsObject, IsOptional, IsString, Length, Max, Min, ValidateNested } from 'class-validator';

/** Most agents one PATCH may change (a crew has a handful). */
export const MAX_AGENT_PATCHES = 20;

/** New settings of one agent of the crew, named by `id`; the fields left out keep their value. */
export class AgentPatchDto {
  /** The agent to change; it must be in the crew (agents are not added or removed here). */
  @IsString()
  @Length(1, 64)
  id!: string;

  @IsOptional()
  @IsString()
  @Length(1, 64)
  role?: string;

  @IsOptional()
  @IsString()
  @Length(1, 500)
  goal?: string;

  @IsOptional()
  @IsString()
  @Length(1, 64)
  model?: string;
}

/** New run settings of the crew; the fields left out keep their value. */
export class CrewConfigPatchDto {
  @IsOptional()
  @IsIn(['sequential', 'hierarchical'])
  process?: 'sequential' | 'hierarchical';

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(50)
  maxIterations?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(2)
  temperature?: number;
}

/**
 * Body of `PATCH /crews/:crewId`: a new name, agents' settings and/or run settings; at least one
 * of them. Anything else in the body is refused (400 naming the property).
 *
 * @example
 * { "name": "Market research (EU)", "agents": [{ "id": "a-1", "model": "gpt-4o" }], "config": { "temperature": 0.5 } }
 */
export class UpdateCrewDto {
  @IsOptional()
  @IsString()
  @Length(1, 100)
  name?: string;

  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_AGENT_PATCHES)
  @ValidateNested({ each: true })
  @Type(() => AgentPatchDto)
  agents?: AgentPatchDto[];

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CrewConfigPatchDto)
  config?: CrewConfigPatchDto;
}

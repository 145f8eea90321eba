import { IsIn, IsObject, IsOptional } from 'class-validator';
import { CREW_EVENT_TYPES, type CrewEventType } from '../crew.model.js';

/** Body of `POST /crews/:crewId/events`. */
export class PublishCrewEventDto {
  @IsIn(CREW_EVENT_TYPES)
  type!: CrewEventType;

  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

using ScoringPlatform.Projections;
using ScoringPlatform.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("projections");
builder.AddProjections();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
